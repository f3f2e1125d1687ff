# Continued pretraining of an existing ResNet-50 with a new decoder for 20 epochs ("200 + 20"):
# MoCo v2's optimizer (SGD lr 0.03 for batch 256, momentum 0.9, weight decay 1e-4), cosine over
# the 20 epochs.  The notes give no pretraining lr; this is mmselfsup's MoCo v2 recipe, shortened.
# The same lr for every parameter; the notes' "1/100 base lr for encoder" (the encoder-decoder's
# ResNet) is optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone.backbone':
# dict(lr_mult=0.01)})), as edmoco_resnet50-d8-psp_8xb32-coslr-20e_voc0712-init.py sets.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=1e-4, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
