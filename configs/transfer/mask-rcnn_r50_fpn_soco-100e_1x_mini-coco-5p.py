# Mask R-CNN R50-FPN fine-tuned from SoCo on Mini COCO 5%: a fixed 5% of the train2017 images.
# Write the subset first (seed 0, see mmsoco/converters/mini_coco.py):
#   python tools/dataset_converters/mini_coco.py data/coco/annotations/instances_train2017.json
# Model and optimizer as the COCO 1x config; evaluation on the full val2017.  The schedule is
# mmdet's 1x (12 epochs over the subset); the paper's iteration budget for Mini COCO is not
# reproduced here (see the paper).
_base_ = './mask-rcnn_r50_fpn_soco-100e_1x_coco.py'

train_dataloader = dict(dataset=dict(ann_file='annotations/instances_train2017_mini-5p.json'))
