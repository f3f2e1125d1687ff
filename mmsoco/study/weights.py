"""A pretraining checkpoint's backbone as a fine-tuning checkpoint, checked against the model."""
import torch

from mmsoco.converters.key_check import compare_state_dicts


def extract_backbone(src: str, dst: str, model: torch.nn.Module, what: str = 'detector') -> dict:
    """Save the online ``backbone.*`` of a pretraining checkpoint for a detector or segmentor.

    This is what mmselfsup's ``extract_backbone_weights.py`` does, plus a check: every
    ``backbone.*`` tensor of ``model`` must come from the checkpoint, with the same shape (a
    depth or layout mismatch stops here, not silently in fine-tuning).  The file is read with the
    converters' weights-only loader (:func:`~mmsoco.converters.reading.read_weights_only`).

    Args:
        src (str): mmselfsup Runner checkpoint (BYOL: ``backbone.*``, ``neck.*``, ``head.*``,
            ``target_net.*``).
        dst (str): Output ``{'state_dict': {backbone.*}, 'meta': ...}``.
        model (nn.Module): The detector or segmentor it is for, built from its config.
        what (str): ``'detector'`` or ``'segmentor'``, for the message.

    Returns:
        dict: ``mapped`` (tensors saved) and ``left_out`` (the rest of the checkpoint).

    Raises:
        ValueError: An unreadable file, or missing, unexpected or mismatched backbone tensors.
    """
    from mmsoco.converters.reading import read_weights_only
    ckpt = read_weights_only(src, 'expected a Runner checkpoint of the pretraining')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{src}: no state dict in the checkpoint (got {type(ckpt).__name__})')
    backbone = {k: v for k, v in state.items() if k.startswith('backbone.')}
    report = compare_state_dicts(backbone, model, scopes=('backbone.', ))
    if not report.ok:
        raise ValueError(f'{src}: its backbone does not fit the {what}: '
                         + report.describe(('missing', 'unexpected', 'shape mismatch'), limit=4))
    torch.save({'state_dict': backbone, 'meta': dict(source=src, part='backbone')}, dst)
    return dict(mapped=len(backbone), left_out=len(state) - len(backbone))
