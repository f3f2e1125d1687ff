"""The kernel profile of the GPU throughput benchmark: ``torch.profiler`` over one training step.

``benchmark_gpu_throughput.py --profile FILE`` runs :func:`profile_setting` in a process of its
own on the first row's setting (the same model, optim wrapper and DataLoader as the timed rows):
the warm-up steps, then one profiled step, and writes the top 15 GPU kernels by self time (ATen
operators on a CPU) with their calls and share as a table.
"""


def kernel_table(events, cuda: bool, top: int = 15) -> list:
    """The ``top`` entries of ``torch.profiler``'s averages by self time: GPU kernels on a GPU,
    ATen operators on a CPU.  Each: name, calls, ms in the step and share of the listed kind."""
    from torch.autograd import DeviceType

    def self_us(e):
        if cuda:
            return getattr(e, 'self_device_time_total', None) or getattr(
                e, 'self_cuda_time_total', 0)
        return e.self_cpu_time_total

    rows = [e for e in events if (e.device_type == DeviceType.CUDA) == cuda and self_us(e) > 0]
    total = sum(self_us(e) for e in rows) or 1
    rows.sort(key=self_us, reverse=True)
    return [dict(name=e.key, calls=e.count, ms=self_us(e) / 1e3, share=self_us(e) / total)
            for e in rows[:top]]


def profile_setting(setting: dict) -> dict:
    """``torch.profiler`` over one training step after the warm-up; the top kernels by time,
    written as a table to ``setting['profile']``."""
    from torch.profiler import ProfilerActivity, profile

    from benchmark_gpu_throughput import prepare, train_step
    cuda = setting['device'].startswith('cuda')
    model, optim_wrapper, it, sync = prepare(setting)
    for _ in range(setting['warmup']):
        train_step(model, optim_wrapper, next(it))
    data = next(it)
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        train_step(model, optim_wrapper, data)
        sync()
    top = kernel_table(prof.key_averages(), cuda, setting.get('top', 15))
    kind = 'GPU kernels' if cuda else 'CPU operators (no GPU)'
    lines = [f"top {len(top)} {kind} by self time, one training step: batch "
             f"{setting['batch']}, {setting['precision']}, {setting['pooling']}, levers "
             f"{'+'.join(setting['levers']) or '-'}",
             f"{'#':>3} {'ms':>9} {'share':>6} {'calls':>6}  name"]
    lines += [f"{i + 1:>3} {r['ms']:>9.3f} {r['share']:>6.1%} {r['calls']:>6}  {r['name'][:100]}"
              for i, r in enumerate(top)]
    with open(setting['profile'], 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(setting, kernels=top, table='\n'.join(lines))
