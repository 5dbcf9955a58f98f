"""ecomctl: batch production of e-commerce posters from a SKU manifest (library entry point)."""

__version__ = "0.1.0"
