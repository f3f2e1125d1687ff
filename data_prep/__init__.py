"""Offline object proposals for SoCo (the first stage, run once per image collection).

- ``python -m data_prep.generate_proposals SOURCE --out proposals.npz``: selective search +
  the paper's filter for every image, in parallel, resumable (``pipeline.py``).
- ``python -m data_prep.draw_proposals``: an image with its kept boxes, as a PNG.
- ``python -m data_prep.annotations``: a labelled set (VOC, YOLO) as COCO json.
- ``storage.ProposalStore``: the proposals file a training job reads (numpy only).

Its benchmark (speed and recall, against the pure-Python package) is a tool, not a module:
``python tools/benchmarks/benchmark_proposals.py``.

Nothing here imports the training stack (torch, mmengine, mmcv, mmdet, mmselfsup, mmsoco).  That
is also why it installs as its own top-level package and not as ``mmsoco.data_prep``: importing
anything under ``mmsoco`` runs ``mmsoco/__init__.py``, which loads torch and mmselfsup.
Importing the package itself loads nothing; modules are imported where needed, so
``from data_prep.storage import ProposalStore`` needs only numpy.
"""
