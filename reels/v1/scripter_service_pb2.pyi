from reels.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateScriptRequest(_message.Message):
    __slots__ = ("library", "span", "kind", "window", "time_zone", "mode", "candidates", "preferences", "target_duration_seconds", "max_shots", "seed")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    TARGET_DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SHOTS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    window: _common_pb2.Window
    time_zone: str
    mode: _common_pb2.ScriptMode
    candidates: _containers.RepeatedCompositeFieldContainer[_common_pb2.Candidate]
    preferences: _common_pb2.Preferences
    target_duration_seconds: float
    max_shots: int
    seed: int
    def __init__(self, library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., window: _Optional[_Union[_common_pb2.Window, _Mapping]] = ..., time_zone: _Optional[str] = ..., mode: _Optional[_Union[_common_pb2.ScriptMode, str]] = ..., candidates: _Optional[_Iterable[_Union[_common_pb2.Candidate, _Mapping]]] = ..., preferences: _Optional[_Union[_common_pb2.Preferences, _Mapping]] = ..., target_duration_seconds: _Optional[float] = ..., max_shots: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class GenerateScriptResponse(_message.Message):
    __slots__ = ("script",)
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    script: _common_pb2.Script
    def __init__(self, script: _Optional[_Union[_common_pb2.Script, _Mapping]] = ...) -> None: ...
