"""raygen: Ray-native genomics AI."""
__version__ = "0.1.0"
