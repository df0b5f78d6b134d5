"""Datasets: the endless world stream and image folders with metadata.jsonl.

Both answer `batch(indices) -> (images, captions)`, where the same index always
gives the same example: resuming a run or sharding it across processes is then
just a matter of which indices are asked for.
"""

from pixeldrift.data.image_folder import ImageFolder
from pixeldrift.data.world_stream import WorldStream

__all__ = ["ImageFolder", "WorldStream"]
