# The C fast path of the response reader (_speedups.c); absent where it could not be built.
from loadhopper.http._protocol import RawResponse

def configure(raw_response: type[RawResponse], /) -> None: ...
def parse_complete(
    data: bytes, max_body: int, max_header_bytes: int, max_headers: int, /
) -> RawResponse | None: ...
