"""The embedded local Hub (``git hf serve``): git smart HTTP, LFS and the Hub API on one port."""
