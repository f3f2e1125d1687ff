"""Peer rows of the GPU throughput benchmark: the same device, precision and batch as SoCo.

- ``resnet50``: torchvision's ResNet-50, a supervised step (cross-entropy over 1000 classes,
  SGD with momentum and weight decay), channels_last, at 224 px: the network NVIDIA's
  DeepLearningExamples tune, the reference for what the convolutions can reach.
- ``byol``: mmselfsup's BYOL ResNet-50 step built from mmselfsup's own config
  (``selfsup/byol/byol_resnet50_16xb256-coslr-200e_in1k.py``, SyncBN -> BN on one device): two
  224 px views, online and target networks, the config's LARS and its parameter-wise settings,
  the EMA update.  Images/s counts images (each two views).

Both take fixed random batches already on the device (no DataLoader: the rows measure the
model step), run ``warmup + steps`` steps with the Runner's per-step ``.item()`` of the loss,
and count model FLOPs per image over one step with torch's ``FlopCounterMode``.  Used by
``benchmark_gpu_throughput.py --peers resnet50 byol``; on a CPU, ``--peer-size 64`` keeps them
small (tests/test_benchmark_peers.py).
"""
import time

PEERS = ('resnet50', 'byol')
BYOL_CONFIG = 'selfsup/byol/byol_resnet50_16xb256-coslr-200e_in1k.py'


def _autocast(device: str, precision: str):
    import torch
    dtype = dict(bf16=torch.bfloat16, fp16=torch.float16).get(precision)
    return torch.autocast(device.split(':')[0], dtype=dtype, enabled=dtype is not None)


def resnet50_step(device: str, precision: str, batch: int, size: int = 224):
    """A torchvision ResNet-50 supervised training step; returns ``step() -> loss``."""
    import torch
    import torch.nn.functional as F
    import torchvision
    if precision == 'fp16':
        raise SystemExit('benchmark: the resnet50 peer runs fp32, tf32 or bf16')
    model = torchvision.models.resnet50().to(device).to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-5)
    x = torch.randn(batch, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch, ), device=device)

    def step():
        with _autocast(device, precision):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def byol_model_cfg():
    """mmselfsup's BYOL ResNet-50 model and optim wrapper configs, SyncBN -> BN (BN1d in the
    MLPs), from the config file mmselfsup installs with its package."""
    import os.path as osp

    import mmselfsup
    from mmengine.config import Config
    path = osp.join(osp.dirname(mmselfsup.__file__), '.mim', 'configs', BYOL_CONFIG)
    if not osp.isfile(path):
        raise SystemExit(f'benchmark: {path} not found (mmselfsup installs its configs in '
                         '.mim/configs; reinstall mmselfsup 1.0.0)')
    cfg = Config.fromfile(path)
    model = cfg.model.to_dict()
    model['backbone']['norm_cfg'] = dict(type='BN')
    # the MLPs' NonLinearNeck defaults to SyncBN: BN1d on one device
    model['neck']['norm_cfg'] = dict(type='BN1d')
    model['head']['predictor']['norm_cfg'] = dict(type='BN1d')
    return model, cfg.optim_wrapper.to_dict()


def byol_step(device: str, precision: str, batch: int, size: int = 224):
    """mmselfsup's BYOL ResNet-50 training step from its config; returns ``step() -> loss``."""
    import torch
    from mmengine.logging import MessageHub
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS
    from mmselfsup.structures import SelfSupDataSample

    from mmsoco.engine.amp import amp_optim_wrapper
    if not DefaultScope.check_instance_created('byol-peer'):   # LARS is found in mmselfsup's
        DefaultScope.get_instance('byol-peer', scope_name='mmselfsup')
    model_cfg, wrapper_cfg = byol_model_cfg()
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 100000)
    hub.update_info('iter', 0)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device)
    model.init_weights()
    model.train()
    wrapper_cfg['optimizer']['lr'] = wrapper_cfg['optimizer']['lr'] * batch / 4096
    if precision in ('bf16', 'fp16'):
        wrapper_cfg = amp_optim_wrapper(wrapper_cfg, precision)
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    g = torch.Generator().manual_seed(0)
    views = [(torch.rand(batch, 3, size, size, generator=g) * 255).to(device) for _ in range(2)]
    data = dict(inputs=views, data_samples=[SelfSupDataSample() for _ in range(batch)])

    def step():
        return model.train_step(data, optim_wrapper)['loss']

    return step


def count_flops(step, batch: int) -> float:
    """Model FLOPs per image of one call of ``step``."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops() / batch


def run_peer(setting: dict) -> dict:
    """One peer row: ``warmup + steps`` steps, then the FLOP count; the SoCo row's fields."""
    import torch
    device, precision, batch = setting['device'], setting['precision'], setting['batch']
    cuda = device.startswith('cuda')
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = precision != 'fp32'
        torch.backends.cudnn.allow_tf32 = precision != 'fp32'
    build = dict(resnet50=resnet50_step, byol=byol_step)[setting['peer']]
    step = build(device, precision, batch, setting.get('size', 224))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times = []
    for i in range(setting['warmup'] + setting['steps']):
        t0 = time.perf_counter()
        loss = step().item()                     # the Runner's per-step .item()
        sync()
        if i >= setting['warmup']:
            times.append(time.perf_counter() - t0)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    gflop = count_flops(step, batch) / 1e9
    s_step = sum(times) / len(times)
    row = dict(setting, s_step=s_step, img_s=batch / s_step, gflop_per_image=gflop,
               tflops=gflop * batch / s_step / 1e3, loss_last=loss,
               finite=loss == loss and abs(loss) != float('inf'))
    row['device_name'] = torch.cuda.get_device_name() if cuda else 'cpu'
    return row
