# The data recipe of the released models (the authors' tools/SoCo_*.sh, read in
# docs/data_pipeline.md): all crops first, then each pair (V1, Vb) draws its own K proposals
# (SoCoOriginalViews).  As written here: the R50-FPN 100-epoch recipe
# (--aug ImageAsymBboxAwareMultiJitter1Cutout); the other recipes change the views and their
# sub-pipelines.  The model must embed V1 once per pair: model.roi_pooling='original'.
_base_ = './imagenet_soco.py'

# the data preprocessor's mean, BGR: the cutout's fill is 0 after normalisation, as the original
mean_bgr = (103.53, 116.28, 123.675)
# V1 of the FPN recipes: box jitter (its own draw for each pair's boxes) before the flip
view_pipeline_v1_jitter = [dict(type='BoxJitter', prob=0.5, ratio=0.1)] + [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.0),
    dict(type='FastSolarize', threshold=128, prob=0.0),
]
# V1 without jitter (C4 recipes): the paper's view_pipeline1
# the other views: no box jitter
view_pipeline_rest = [
    dict(type='BoxAwareRandomFlip', prob=0.5),
    dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='FastGrayscale', prob=0.2),
    dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.1),
    dict(type='FastSolarize', threshold=128, prob=0.2),
]
# ... with RandomCutoutInBbox last, after flip and colour (the 100-epoch recipes)
view_pipeline_rest_cutout = view_pipeline_rest + [
    dict(type='BoxCutout', mode='original', prob=0.5, area=(0.1, 0.3), fill=mean_bgr),
]
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='FitProposals'),     # all of an image's proposals, fitted to its pixels
    dict(type='SoCoOriginalViews',
         num_proposals=4, select_tries=5, crop_frame='image',
         views=[dict(kind='whole', size=224),                     # V1: the image
                dict(kind='crop', size=224, scale=(0.5, 1.0)),    # V2: a crop of the image
                dict(kind='crop', size=112, scale=(0.5, 1.0))],   # V3: an independent crop
         view_transforms=[view_pipeline_v1_jitter, view_pipeline_rest_cutout,
                          view_pipeline_rest_cutout]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
