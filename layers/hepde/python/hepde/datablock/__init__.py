"""The DataBlock: data products keyed by namespace (channel or shared source), generation and name.

``api`` holds the types and the store protocol; ``codec`` the language-neutral value encoding;
``dynamo`` the DynamoDB (pynamodb) + S3 implementation; ``view`` the read-only mapping modules see.
"""

from hepde.datablock.api import (
    DataBlockStore,
    GenerationInfo,
    Header,
    Metadata,
    ProductRef,
    channel_namespace,
    source_namespace,
)

__all__ = [
    "DataBlockStore",
    "GenerationInfo",
    "Header",
    "Metadata",
    "ProductRef",
    "channel_namespace",
    "source_namespace",
]
