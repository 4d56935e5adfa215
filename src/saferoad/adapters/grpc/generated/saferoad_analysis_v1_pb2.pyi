from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeOptions(_message.Message):
    __slots__ = ("set", "detector")
    SET_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    set: _containers.RepeatedScalarFieldContainer[str]
    detector: str
    def __init__(self, set: _Optional[_Iterable[str]] = ..., detector: _Optional[str] = ...) -> None: ...

class AnalyzePathRequest(_message.Message):
    __slots__ = ("path", "options")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    path: str
    options: AnalyzeOptions
    def __init__(self, path: _Optional[str] = ..., options: _Optional[_Union[AnalyzeOptions, _Mapping]] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("archive_format", "name", "options")
    ARCHIVE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    archive_format: str
    name: str
    options: AnalyzeOptions
    def __init__(self, archive_format: _Optional[str] = ..., name: _Optional[str] = ..., options: _Optional[_Union[AnalyzeOptions, _Mapping]] = ...) -> None: ...

class UploadRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class Started(_message.Message):
    __slots__ = ("recording", "source_format", "duration_s")
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    recording: str
    source_format: str
    duration_s: float
    def __init__(self, recording: _Optional[str] = ..., source_format: _Optional[str] = ..., duration_s: _Optional[float] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("type", "start_s", "end_s", "direction", "severity", "confidence", "peak", "evidence")
    class PeakEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    PEAK_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    type: str
    start_s: float
    end_s: float
    direction: str
    severity: str
    confidence: float
    peak: _containers.ScalarMap[str, float]
    evidence: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., direction: _Optional[str] = ..., severity: _Optional[str] = ..., confidence: _Optional[float] = ..., peak: _Optional[_Mapping[str, float]] = ..., evidence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("summary", "n_events")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    N_EVENTS_FIELD_NUMBER: _ClassVar[int]
    summary: _struct_pb2.Struct
    n_events: int
    def __init__(self, summary: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., n_events: _Optional[int] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("started", "event", "summary")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    started: Started
    event: Event
    summary: Summary
    def __init__(self, started: _Optional[_Union[Started, _Mapping]] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("saferoad_version", "detector", "inference_url", "max_upload_bytes")
    SAFEROAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_URL_FIELD_NUMBER: _ClassVar[int]
    MAX_UPLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    saferoad_version: str
    detector: str
    inference_url: str
    max_upload_bytes: int
    def __init__(self, saferoad_version: _Optional[str] = ..., detector: _Optional[str] = ..., inference_url: _Optional[str] = ..., max_upload_bytes: _Optional[int] = ...) -> None: ...
