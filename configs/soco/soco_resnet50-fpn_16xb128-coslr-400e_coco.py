# SoCo R50-FPN pretrained on non-object-centric data: COCO train2017 + unlabeled2017 (~241k
# images), each folder with its own proposals file.  400 epochs is this config's choice (the
# ImageNet schedule); check the paper's COCO experiment before comparing numbers.
_base_ = './soco_resnet50-fpn_16xb128-coslr-400e_in1k.py'

data_root = 'data/coco/'
train_pipeline = {{_base_.train_pipeline}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='SoCoDataset', data_root=data_root,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img_path='train2017/'),
                 proposals_file='proposals_train2017.npz', pipeline=train_pipeline),
            dict(type='SoCoDataset', data_root=data_root,
                 ann_file='annotations/image_info_unlabeled2017.json',
                 data_prefix=dict(img_path='unlabeled2017/'),
                 proposals_file='proposals_unlabeled2017.npz', pipeline=train_pipeline),
        ]))
