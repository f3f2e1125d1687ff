"""Random-resized-crop views that keep their geometry, for the patch-level contrastive tasks."""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmsoco.registry import TRANSFORMS

from .box_ops import crop_resize_matrix
from .view_geometry import as_size, random_resized_crop, resize

Crop = Tuple[int, int, int, int]


def crop_view(img: np.ndarray, crop: Crop, size: Tuple[int, int]) -> dict:
    """The view of ``img`` cut at ``crop`` = ``(x0, y0, w, h)`` (whole pixels) and resized to
    ``size`` = ``(w', h')``, as a results dict for a view sub-pipeline.

    Returns:
        dict: ``img`` (h', w', C) uint8, ``img_shape`` and ``view_matrix`` (3x3 float64,
        original-image -> view coordinates, see :mod:`.box_ops`).
    """
    x0, y0, w, h = crop
    out = resize(img[y0:y0 + h, x0:x0 + w], size)
    return dict(img=out, img_shape=out.shape[:2], view_matrix=crop_resize_matrix(crop, size))


@TRANSFORMS.register_module()
class GeometricMultiView(BaseTransform):
    """``num_views`` random resized crops of one image, each recording where it came from.

    mmselfsup's ``MultiView`` with a ``RandomResizedCrop`` first in each view pipeline, except
    that every view keeps its geometry: the crop is torchvision's ``RandomResizedCrop`` draw
    (:func:`~.view_geometry.random_resized_crop`, in the decoded image's pixels, the area fraction
    in ``scale``, the aspect ratio in ``ratio``), resized to ``size`` (bilinear after halving the
    sides that shrink 2x or more, :func:`~.view_geometry.resize`), and its 3x3 matrix
    (original image -> view, :mod:`.box_ops`) travels with the view.  The view pipeline then
    runs on each view; its flip must be :class:`BoxAwareRandomFlip`, which updates the matrix
    (a flip the matrix does not know would mismatch every cell of a patch-level loss).  MoCo v2
    puts the flip last; flip and the photometric augmentations commute, so any order does.

    Required keys: ``img``.
    Modified keys: ``img`` (list of the views, each uint8 (h, w, C)).
    Added keys: ``view_matrices`` (float64 (V, 3, 3)), ``view_shapes`` (list of (h, w)),
    ``view_flips`` (list of bool).  Pack with mmselfsup's ``PackSelfSupInputs`` and
    ``meta_keys=['img_path', 'view_matrices', 'view_shapes', 'view_flips']``.

    Args:
        size (int | tuple): Output size of every view, ``(w, h)`` or an int. Defaults to 224.
        scale (tuple): Area fraction of the image each crop covers. Defaults to (0.2, 1.0),
            MoCo v2's.
        ratio (tuple): Aspect-ratio range of the crops. Defaults to (3/4, 4/3).
        num_views (int): Number of views. Defaults to 2.
        transforms (list[dict], optional): The view pipeline, applied to each view
            independently. Defaults to None (none).
    """

    def __init__(self,
                 size=224,
                 scale: Tuple[float, float] = (0.2, 1.0),
                 ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 num_views: int = 2,
                 transforms: Optional[Sequence[dict]] = None) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'GeometricMultiView: scale {scale} must lie in (0, 1]')
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f'GeometricMultiView: ratio {ratio} must be increasing and positive')
        if num_views < 1:
            raise ValueError(f'GeometricMultiView: num_views must be >= 1, got {num_views}')
        self.size = as_size(size)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.num_views = num_views
        # built with mmselfsup's registry, so that no default scope is needed
        self.pipeline = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t
                                 for t in (transforms or [])])

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        views = []
        for _ in range(self.num_views):
            crop = random_resized_crop(width, height, self.scale, self.ratio)
            view = self.pipeline(crop_view(img, crop, self.size))
            if view is None:
                raise RuntimeError('a view transform of GeometricMultiView returned None: '
                                   f'{self.pipeline}')
            views.append(view)
        results['img'] = [view['img'] for view in views]
        results['view_matrices'] = np.stack([view['view_matrix'] for view in views])
        results['view_shapes'] = [view['img'].shape[:2] for view in views]
        results['view_flips'] = [bool(view.get('flip', False)) for view in views]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, scale={self.scale}, '
                f'ratio={self.ratio}, num_views={self.num_views}, pipeline={self.pipeline})')
