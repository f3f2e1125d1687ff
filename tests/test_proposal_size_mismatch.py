"""Proposals recorded for another image size: rescaled when only resized, refused when rotated.

Real photos (scikit-image's bundled chelsea and coffee) are saved as the proposal stage saw them,
then replaced on disk by a resized, a rotated and an EXIF-rotated copy, and read back through
the training loader (``LoadImageOrSkip``, OpenCV decoding with EXIF orientation applied).
"""
import os.path as osp
import struct

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import mmsoco  # noqa: F401
import mmsoco.datasets.fallbacks as fallbacks_module
from data_prep.demo_collection import load_photo
from data_prep.storage import ProposalStore
from mmsoco.datasets import SoCoDataset
from mmsoco.datasets.transforms import LoadImageOrSkip, SelectProposals

# x1, y1, x2, y2 in the pixels of chelsea.png (451 x 300), whole pixels
BOXES = np.array([[10, 20, 110, 220], [200, 40, 440, 290], [0, 0, 451, 300]], np.float32)


@pytest.fixture
def messages(monkeypatch):
    """The warnings FallbackCounter logs (mmengine's print_log), collected."""
    seen = []
    monkeypatch.setattr(fallbacks_module, 'print_log', lambda msg, **kw: seen.append(msg))
    return seen


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an EXIF APP1 segment holding only the Orientation tag."""
    tiff = (b'MM\x00*\x00\x00\x00\x08' + struct.pack('>H', 1)
            + struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + b'\x00\x00\x00\x00')
    payload = b'Exif\x00\x00' + tiff
    return jpeg[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + jpeg[2:]


def _load(path, size):
    """What the dataset hands the pipeline, read by the training loader."""
    results = LoadImageOrSkip()(dict(img_path=str(path)))
    results.update(proposals=BOXES.copy(), proposal_ids=np.arange(len(BOXES)),
                   proposals_image_size=size)
    return results


def _sorted(out):
    order = np.argsort(out['proposal_ids'])
    return out['proposal_ids'][order], out['proposals'][order]


def test_same_size_keeps_the_boxes(tmp_path, messages):
    photo = load_photo('chelsea.png')
    cv2.imwrite(str(tmp_path / 'a.png'), photo)
    select = SelectProposals(num_proposals=8)
    ids, boxes = _sorted(select(_load(tmp_path / 'a.png', (451, 300))))
    np.testing.assert_array_equal(ids, [0, 1, 2])
    np.testing.assert_array_equal(boxes, BOXES)
    assert select.fallbacks['size_rescaled'] == select.fallbacks['size_refused'] == 0
    assert not messages


@pytest.mark.parametrize('new_size', [(226, 150), (902, 600), (300, 200)])
def test_resized_image_rescales_boxes_and_logs_its_path(tmp_path, messages, new_size):
    photo = load_photo('chelsea.png')  # 451 x 300
    path = tmp_path / 'resized.jpg'
    cv2.imwrite(str(path), cv2.resize(photo, new_size, interpolation=cv2.INTER_AREA))
    select = SelectProposals(num_proposals=8)
    out = select(_load(path, (451, 300)))
    assert out['img'].shape[1::-1] == new_size
    ids, boxes = _sorted(out)
    np.testing.assert_array_equal(ids, [0, 1, 2])
    fx, fy = new_size[0] / 451, new_size[1] / 300
    np.testing.assert_allclose(boxes, BOXES * np.array([fx, fy, fx, fy], np.float32),
                               rtol=1e-6)
    np.testing.assert_allclose(boxes[2], [0, 0, *new_size])  # the whole image stays whole
    assert select.fallbacks['size_rescaled'] == 1 and select.fallbacks['size_refused'] == 0
    assert out['fallbacks'] == {'size_rescaled': 1}  # travels with the sample to the hook
    logged = [m for m in messages if str(path) in m]
    assert len(logged) == 1 and 'boxes rescaled' in logged[0]
    assert f'decoded {new_size[0]}x{new_size[1]}' in logged[0] and '451x300' in logged[0]


@pytest.mark.parametrize('how', ['rotated pixels', 'EXIF orientation 6', 'cropped'])
def test_aspect_ratio_change_is_refused_not_stretched(tmp_path, messages, how):
    photo = load_photo('chelsea.png')  # 451 x 300
    path = tmp_path / 'changed.jpg'
    if how == 'rotated pixels':
        cv2.imwrite(str(path), cv2.rotate(photo, cv2.ROTATE_90_CLOCKWISE))
    elif how == 'cropped':
        cv2.imwrite(str(path), photo[:, :300])
    else:  # raw pixels as recorded, but the EXIF tag turns the decoded image upright
        path.write_bytes(_with_exif_orientation(cv2.imencode('.jpg', photo)[1].tobytes(), 6))
    select = SelectProposals(num_proposals=8)
    results = _load(path, (451, 300))
    assert results['img'].shape[:2] == ((451, 300) if how != 'cropped' else (300, 300))
    assert select(results) is None  # the dataset draws another sample
    assert select.fallbacks['size_refused'] == 1 and select.fallbacks['size_rescaled'] == 0
    logged = [m for m in messages if str(path) in m]
    assert len(logged) == 1 and 'aspect ratio changed' in logged[0]
    # the refusal is pending and is handed to the next sample the transform returns
    good = tmp_path / 'good.png'
    cv2.imwrite(str(good), photo)
    out = select(_load(good, (451, 300)))
    assert out['fallbacks'] == {'size_refused': 1}
    np.testing.assert_array_equal(_sorted(out)[1], BOXES)


def test_one_pixel_of_rounding_is_a_resize_two_are_not():
    assert SelectProposals.same_aspect((451, 300), (226, 150))   # 0.5011 vs 0.5
    assert SelectProposals.same_aspect((500, 333), (250, 167))
    assert not SelectProposals.same_aspect((451, 300), (226, 146))
    assert not SelectProposals.same_aspect((451, 300), (300, 451))


def test_paths_are_logged_up_to_a_cap_and_then_only_counted(tmp_path, messages):
    photo = load_photo('chelsea.png')
    cv2.imwrite(str(tmp_path / 'small.png'), cv2.resize(photo, (226, 150)))
    select = SelectProposals(num_proposals=8)
    select.fallbacks.max_logged_paths = 3
    for _ in range(5):
        select(_load(tmp_path / 'small.png', (451, 300)))
    assert select.fallbacks['size_rescaled'] == 5
    logged = [m for m in messages if 'small.png' in m]
    assert len(logged) == 3 and 'counted, not logged' in logged[-1]


def test_dataset_replaces_a_rotated_image_and_rescales_a_resized_one(tmp_path, messages):
    """The whole training path: proposals file -> SoCoDataset -> SoCo pipeline."""
    from mmsoco.datasets import soco_train_pipeline
    names = {'n01/cat.jpg': 'chelsea.png', 'n01/cup.jpg': 'coffee.png',
             'n02/cat_again.jpg': 'chelsea.png'}
    items = []
    for rel, photo_name in names.items():
        photo = load_photo(photo_name)
        path = tmp_path / 'train' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), photo)
        h, w = photo.shape[:2]
        items.append((rel, np.array([[20, 20, w // 2, h // 2], [w // 3, h // 3, w - 5, h - 5]],
                                    np.float32), (w, h)))
    ProposalStore.write(str(tmp_path / 'proposals.npz'), items)
    # after the proposals were computed: one file rotated, one re-encoded at half size
    cup = load_photo('coffee.png')
    cv2.imwrite(str(tmp_path / 'train' / 'n01' / 'cup.jpg'),
                cv2.rotate(cup, cv2.ROTATE_90_CLOCKWISE))
    cat = load_photo('chelsea.png')
    cv2.imwrite(str(tmp_path / 'train' / 'n02' / 'cat_again.jpg'),
                cv2.resize(cat, (226, 150), interpolation=cv2.INTER_AREA))

    init_default_scope('mmselfsup')
    dataset = SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz',
                          pipeline=soco_train_pipeline())
    select = next(t for t in dataset.pipeline.transforms if isinstance(t, SelectProposals))
    rotated = [i for i in range(len(dataset))
               if dataset.get_data_info(i)['img_path'].endswith('cup.jpg')][0]
    np.random.seed(0)
    sample = dataset[rotated]
    assert not sample['data_samples'].img_path.endswith('cup.jpg')  # another sample instead
    assert select.fallbacks['size_refused'] >= 1
    assert any('cup.jpg' in m and 'aspect ratio changed' in m for m in messages)

    resized = [i for i in range(len(dataset))
               if dataset.get_data_info(i)['img_path'].endswith('cat_again.jpg')][0]
    sample = dataset[resized]
    assert sample['data_samples'].img_path.endswith('cat_again.jpg')
    assert select.fallbacks['size_rescaled'] >= 1
    assert any(osp.join('n02', 'cat_again.jpg') in m and 'boxes rescaled' in m
               for m in messages)
