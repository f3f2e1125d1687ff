# ImageNet-1k train images (imagenet_mocov2.py), two 224 views as MoCo v2 makes them (random
# resized crop, scale 0.2-1, then colour jitter, grayscale, blur and flip), each view keeping its
# crop/resize/flip matrix for the patch matching (GeometricMultiView).  The photometric steps are
# imagenet_mocov2.py's (mmsoco's uint8 versions of mmselfsup's, see there).
_base_ = './imagenet_mocov2.py'

view_pipeline = [
    dict(type='BoxAwareRandomFlip', prob=0.5),  # MoCo v2's flip, recorded in the view's matrix
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
         prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='GeometricMultiView', num_views=2, size=224, scale=(0.2, 1.0),
         transforms=view_pipeline),
    dict(type='PackSelfSupInputs',
         meta_keys=['img_path', 'view_matrices', 'view_shapes', 'view_flips']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
