"""symrnn: Lesson 6 recurrent networks as a compiled PyTensor graph."""
__version__ = "0.1.0"
