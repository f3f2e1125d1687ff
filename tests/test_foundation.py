"""The installed stack: package import, registries, compiled mmcv ops, checkpoint resume."""
import pytest
import torch


def test_package_imports_and_repairs_mmselfsup_registries():
    import mmsoco
    from mmselfsup.registry import LOOPS, RUNNER_CONSTRUCTORS, RUNNERS
    assert mmsoco.__version__
    for reg in (LOOPS, RUNNERS, RUNNER_CONSTRUCTORS):
        assert 'mmselfsup.engine.runner' not in reg._locations
    # the defect this repairs is still present in the released package
    assert ('loop', 'mmselfsup.engine.runner') in mmsoco.global_setup.MISSING_LOCATIONS


def test_modules_build_through_mmselfsup_registry_with_mmdet_scope():
    import mmsoco  # noqa: F401
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        head = MODELS.build(dict(type='RCNNHead'))
        fpn = MODELS.build(dict(type='mmdet.FPN', in_channels=[256, 512], out_channels=256,
                                num_outs=2))
    assert type(head).__module__.startswith('mmsoco.')
    assert type(fpn).__module__.startswith('mmdet.')
    assert head(torch.randn(3, 256, 7, 7)).shape == (3, 1024)


def test_mmcv_compiled_ops_run_on_cpu():
    from mmcv.ops import RoIAlign, nms
    feat = torch.arange(16.).view(1, 1, 4, 4)
    out = RoIAlign(output_size=1, spatial_scale=1., sampling_ratio=1, aligned=True)(
        feat, torch.tensor([[0, 0, 0, 4, 4.]]))
    assert out.item() == pytest.approx(feat.mean().item())
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
