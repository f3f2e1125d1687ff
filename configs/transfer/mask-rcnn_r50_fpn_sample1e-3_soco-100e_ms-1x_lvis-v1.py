# Mask R-CNN R50-FPN fine-tuned from SoCo (R50-FPN) on LVIS v1, 1x schedule, with the SoCo
# release's Detectron2 protocol (detectron2_configs/LVIS_R_50_FPN_1x.yaml +
# SoCo_FPN_Star_400ep_lvis.yaml, which sets 90k iterations, steps at 60k and 80k).
#
# Model, solver and Precise BN as the COCO R50-FPN 1x config (backbone, FPN and the 4conv1fc BN
# box head from SoCo, SyncBN everywhere, weight decay 2.5e-5, multi-scale 640..800); LVIS v1 data
# with repeat-factor sampling (threshold 0.001), 1203 classes, up to 300 detections per image at
# a score threshold of 1e-4.  Evaluation needs the `lvis` package.
# Repeat-factor sampling: mmdet's ClassBalancedDataset repeats image i ceil(r_i) times per pass
# (r_i = max over its categories c of max(1, sqrt(0.001 / f_c)), f_c the fraction of training
# images with c); Detectron2's RepeatFactorTrainingSampler uses the same r_i but rounds it at
# random each epoch (floor + Bernoulli of the fraction), so rare images come a little more often
# here.  docs/transfer.md has the details.
_base_ = './mask-rcnn_r50_fpn_soco-100e_1x_coco.py'

dataset_type = 'LVISV1Dataset'
data_root = 'data/lvis_v1/'

model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=1203), mask_head=dict(num_classes=1203)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))  # LVIS allows up to 300

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=1e-3,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.train_pipeline}},
            backend_args=None)))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True,
    type='LVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric=['bbox', 'segm'],
    backend_args=None)
test_evaluator = val_evaluator
