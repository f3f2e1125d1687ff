# SoCo R50-C4 400 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_C4_400ep.sh (--aug ImageAsymBboxCutout, --crop 0.6), read in docs/data_pipeline.md.
# The paper-text config's model (with roi_pooling='original') on the released recipe's data.
_base_ = [
    '../_base_/models/soco_r50_c4.py',
    '../_base_/datasets/imagenet_soco_original-recipe_c4.py',
    '../_base_/schedules/lars_coslr_400e.py',
    '../_base_/default_runtime.py',
]

model = dict(roi_pooling='original')
