# ImageNet-1k train images + their selective-search proposals (data_prep.generate_proposals).
# K=4 proposals per image; V1 224, V2 224 (crop of V1, scale 0.5-1), V3 = V2 at 112;
# BYOL's augmentations on every view without the random crop; box jitter on V2 and V3.
dataset_type = 'SoCoDataset'
data_root = 'data/imagenet/'

# view_pipeline1 is BYOL's first view (blur p=1, no solarize), view_pipeline2 the others
view_pipeline1 = [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.0),
    dict(type='FastSolarize', threshold=128, prob=0.0),
]
view_pipeline2 = [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='BoxJitter', prob=0.5, ratio=0.1),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.1),
    dict(type='FastSolarize', threshold=128, prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='SelectProposals', num_proposals=4),
    dict(type='SoCoViews',
         views=[dict(kind='whole', size=224),                     # V1: the image
                dict(kind='crop', size=224, scale=(0.5, 1.0)),    # V2: a crop of V1
                dict(kind='downsample', size=112, source=1)],     # V3: V2 at 112
         view_transforms=[view_pipeline1, view_pipeline2, view_pipeline2]),
    dict(type='PackSoCoInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        proposals_file='proposals_train.npz',  # relative to data_root
        ann_file='',  # '' scans train/ (class folders); or 'meta/train.txt'
        data_prefix=dict(img_path='train/'),
        pipeline=train_pipeline))
