# Mask R-CNN R50-FPN fine-tuned from SoCo on Mini COCO 5%: a fixed 5% of the train2017 images.
# Write the subset first (seed 0, see mmsoco/converters/mini_coco.py):
#   python tools/dataset_converters/mini_coco.py data/coco/annotations/instances_train2017.json
# Everything as the COCO 1x config (the SoCo release's Detectron2 protocol), including its 1x
# schedule as Detectron2 counts it: 90k iterations of 16 images, whatever the training set's
# size.  The release has no Mini COCO config; evaluation on the full val2017.
_base_ = './mask-rcnn_r50_fpn_soco-100e_1x_coco.py'

train_dataloader = dict(dataset=dict(ann_file='annotations/instances_train2017_mini-5p.json'))
