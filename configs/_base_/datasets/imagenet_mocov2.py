# mmselfsup's MoCo v2 data (selfsup/_base_/datasets/imagenet_mocov2.py): two views, each a 224 px
# RandomResizedCrop (scale 0.2-1), colour jitter (0.4, 0.4, 0.4, 0.1) with p=0.8, grayscale p=0.2,
# Gaussian blur (sigma 0.1-2) p=0.5 and a flip.  The photometric steps are mmsoco's uint8 versions
# of the same distributions (FastColorJitter, FastGrayscale, FastGaussianBlur): mmselfsup's
# ColorJitter fails under numpy 2 (mmcv 2.0.1's adjust_hue: "Python integer -5 out of bounds for
# uint8").
_base_ = 'mmselfsup::selfsup/_base_/datasets/imagenet_mocov2.py'

view_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.2, 1.), backend='pillow'),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
         prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
# collate_fn again: the base's carries the '_scope_' key mmengine adds, which the Runner would pass
# on to default_collate as a keyword
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'),
                        dataset=dict(pipeline=train_pipeline))
