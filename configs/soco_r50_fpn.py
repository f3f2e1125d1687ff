# The paper's main setting under the name the README's command uses:
#   tools/dist_train.sh configs/soco_r50_fpn.py 16
# SoCo, ResNet-50 + FPN, 3 views, 100 epochs on ImageNet-1k, 16 GPUs x 128 images (batch 2048).
# Nothing differs from the config it inherits.
_base_ = './soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'
