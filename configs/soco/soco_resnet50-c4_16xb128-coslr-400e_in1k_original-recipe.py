# SoCo R50-C4 400 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_C4_400ep.sh (--aug ImageAsymBboxCutout, --crop 0.6), read in docs/data_pipeline.md.
# Only the data side differs from the paper-text config, plus roi_pooling='original'.
_base_ = './soco_resnet50-c4_16xb128-coslr-400e_in1k.py'

# the data preprocessor's mean, BGR: the cutout's fill is 0 after normalisation, as the original
mean_bgr = (103.53, 116.28, 123.675)
# no box jitter anywhere in this recipe
view_pipeline1 = [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.0),
    dict(type='FastSolarize', threshold=128, prob=0.0),
]
# V2: RandomCutoutInBbox last, after flip and colour
view_pipeline2 = [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.1),
    dict(type='FastSolarize', threshold=128, prob=0.2),
    dict(type='BoxCutout', mode='original', prob=0.5, area=(0.1, 0.3), fill=mean_bgr),
]
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='SelectProposals', num_proposals=4, select='after_crop'),
    dict(type='SoCoViews',
         select='after_crop', crop_frame='image', select_tries=5,
         v1_size=224,
         v2_size=224, v2_scale=(0.6, 1.0),
         v3_size=None,
         view_transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(roi_pooling='original')
