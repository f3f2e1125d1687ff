# DeepLabV3+ with the linear schedule of the dense pretext notes: SGD lr 3e-3 -> 3e-5 over 30k
# iterations (their MoCo row; PLR's PSPNet row is its cosine config at lr 3e-3:
# deeplabv3plus_r50-d8_soco-100e_4xb4-coslr-30k_voc12aug-512x512.py with
# --cfg-options optim_wrapper.optimizer.lr=0.003 param_scheduler.0.eta_min=3e-5).
# docs/dense_pretext.md.
_base_ = './deeplabv3plus_r50-d8_soco-100e_4xb4-coslr-30k_voc12aug-512x512.py'

optim_wrapper = dict(optimizer=dict(lr=0.003))
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, begin=0, end=30000, start_factor=1.0, end_factor=0.01)
]
