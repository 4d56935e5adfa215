"""Video adapters: PyAV frame sources (files, streams, images) and rendering."""

from saferoad.adapters.video.frames import (
    ImageSequenceSource,
    VideoDecodeError,
    VideoFrameSource,
    open_frames,
)

__all__ = ["ImageSequenceSource", "VideoDecodeError", "VideoFrameSource", "open_frames"]
