# SoCo R50-C4: RoIAlign 14x14 on C4 (stride 16), the whole res5 stage as the head, two views.
_base_ = './soco_r50_fpn.py'

model = dict(
    # mmdet's ResNet: mmselfsup's cannot stop after 3 stages; both name parameters alike
    backbone=dict(_delete_=True, type='mmdet.ResNet', depth=50, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2, ), norm_cfg=dict(type='SyncBN'),
                  norm_eval=False, style='pytorch'),
    neck=None,
    roi_extractor=dict(
        _delete_=True,
        # one level: no assignment; pools in fp32 under autocast (mmcv's RoIAlign has no bf16)
        type='ScaleAwareRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0, aligned=True),
        out_channels=1024,
        featmap_strides=[16],
        level_bounds=()),
    head=dict(_delete_=True, type='mmdet.ResLayer', depth=50, stage=3, stride=2,
              norm_cfg=dict(type='SyncBN'), norm_eval=False),
    projector=dict(in_channels=2048),
    view_pairs=[(0, 1)])
