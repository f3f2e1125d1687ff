# PLMoCo continued for 20 epochs on the VOC 2007+2012 trainval images (16551, no labels used)
# from MoCo (200 epochs), with the continued-pretraining schedule of the other dense pretext
# tasks (MoCo v2's SGD, cosine over 20 epochs).  See docs/dense_pretext.md.
_base_ = [
    '../_base_/models/plmoco_r50_d16.py',
    '../_base_/datasets/voc0712_plmoco.py',
    '../_base_/schedules/sgd_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

# written by: init2soco.py SRC checkpoints/plmoco_init_r50-d16.pth --config <this file>
load_from = 'checkpoints/plmoco_init_r50-d16.pth'
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
