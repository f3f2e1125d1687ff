# SoCo R50-FPN 100 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_FPN_100ep.sh (--aug ImageAsymBboxAwareMultiJitter1Cutout), read in
# docs/data_pipeline.md: the recipe the base dataset config writes out.  The paper-text
# config's model, with roi_pooling='original' (V1 is embedded once per pair, with its boxes).
_base_ = [
    '../_base_/models/soco_r50_fpn.py',
    '../_base_/datasets/imagenet_soco_original-recipe.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]

model = dict(roi_pooling='original')
