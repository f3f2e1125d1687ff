# SoCo R50-FPN 400 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_FPN_400ep.sh (--aug ImageAsymBboxAwareMultiJitter1), read in
# docs/data_pipeline.md.  Only the data side differs from the paper-text config, plus
# roi_pooling='original' (V1 is embedded once per pair, with that pair's boxes).
_base_ = './soco_resnet50-fpn_16xb128-coslr-400e_in1k.py'

# V1: box jitter (its own draw for each pair's boxes), in the image's frame before the flip
view_pipeline1 = [
    dict(type='BoxJitter', prob=0.5, ratio=0.1),
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.0),
    dict(type='FastSolarize', threshold=128, prob=0.0),
]
# V2, V3: no jitter, no cutout (the 400-epoch recipe has none)
view_pipeline2 = [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.1),
    dict(type='FastSolarize', threshold=128, prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='SelectProposals', num_proposals=4, select='after_crop'),
    dict(type='SoCoViews',
         select='after_crop', crop_frame='image', select_tries=5,
         v1_size=224,
         v2_size=224, v2_scale=(0.5, 1.0),
         v3_size=112, v3_mode='crop', v3_scale=(0.5, 1.0),  # an independent crop of the image
         view_transforms=[view_pipeline1, view_pipeline2, view_pipeline2]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(roi_pooling='original')
