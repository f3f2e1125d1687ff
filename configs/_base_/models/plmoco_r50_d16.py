# Patch-level MoCo (PLMoCo): ResNet-50 with stage 4 dilated (output stride 16, 14x14 cells on a
# 224 view), DenseCL's neck (per-cell projector: 1x1 conv 2048-2048-128; beside it MoCo v2's
# global projector, used only when global_weight > 0), MoCo v2's key momentum, queue and head.
model = dict(
    type='PatchMoCo',
    queue_len=65536,          # key-cell embeddings kept as negatives
    feat_dim=128,
    momentum=0.999,
    out_stride=16,
    matching='geometric',     # 'feature': DenseCL's argmax of backbone-feature similarity
    cells_per_image=16,       # key cells each image puts into the queue per step
    key_view_negatives=False,  # True: the key view's other cells are negatives too
    global_weight=0.,         # > 0: mix in MoCo v2's global term (DenseCL uses 0.5)
    data_preprocessor=dict(
        mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), bgr_to_rgb=True),
    backbone=dict(
        type='ResNet', depth=50, in_channels=3, out_indices=[4],
        strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), norm_cfg=dict(type='BN')),
    neck=dict(type='DenseCLNeck', in_channels=2048, hid_channels=2048, out_channels=128,
              num_grid=None),
    head=dict(type='ContrastiveHead', loss=dict(type='mmcls.CrossEntropyLoss'), temperature=0.2))
