from . import bookkeeping_backend
