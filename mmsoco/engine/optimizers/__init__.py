from .foreach_lars import ForeachLARS

__all__ = ['ForeachLARS']
