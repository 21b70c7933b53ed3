"""TaxonomyService over gRPC: the default, a tenant's own taxonomy, bad
replacements named, the default restored."""

from __future__ import annotations

import grpc
import pytest
from conftest import connect
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client.api import FinsegClient
from finseg.v1 import taxonomy_pb2, taxonomy_pb2_grpc


def stub(client: FinsegClient):
    return taxonomy_pb2_grpc.TaxonomyServiceStub(client.channel)


def get(client: FinsegClient) -> taxonomy_pb2.GetTaxonomyResponse:
    return stub(client).GetTaxonomy(taxonomy_pb2.GetTaxonomyRequest(), metadata=client.metadata)


def replace(client: FinsegClient, **fields) -> taxonomy_pb2.ReplaceTaxonomyResponse:
    return stub(client).ReplaceTaxonomy(taxonomy_pb2.ReplaceTaxonomyRequest(**fields),
                                        metadata=client.metadata)


def test_default_replace_isolate_restore(client: FinsegClient, target: str) -> None:
    first = get(client)
    assert first.is_default
    assert "INSURANCE.CAR" in first.taxonomy.groups
    assert first.taxonomy.aliases["SALARY"] == "INCOME.SALARY"

    mine = taxonomy_pb2.LabelTaxonomy(groups=["FOOD", "FOOD.GROCERIES"],
                                      aliases={"GROCERIES": "FOOD.GROCERIES"})
    replaced = replace(client, taxonomy=mine)
    assert not replaced.is_default and list(replaced.taxonomy.groups) == ["FOOD", "FOOD.GROCERIES"]
    again = get(client)
    assert not again.is_default and dict(again.taxonomy.aliases) == {"GROCERIES": "FOOD.GROCERIES"}

    with connect(target, "another-bank") as other:
        assert get(other).is_default  # one tenant's taxonomy is its own

    restored = replace(client, restore_default=True)
    assert restored.is_default and get(client).is_default


@pytest.mark.parametrize("groups, aliases, field", [
    (["A", "A"], {}, "taxonomy.groups[1]"),
    (["A.B"], {}, "taxonomy.groups[0]"),
    ([], {}, "taxonomy.groups"),
    (["A"], {"B": "NOPE"}, "taxonomy.aliases['B']"),
])
def test_a_bad_taxonomy_is_invalid_argument_naming_the_field(client: FinsegClient, groups,
                                                             aliases, field) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        replace(client, taxonomy=taxonomy_pb2.LabelTaxonomy(groups=groups, aliases=aliases))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = error_details_pb2.BadRequest()
    rpc_status.from_call(failure.value).details[0].Unpack(bad)
    assert bad.field_violations[0].field == field
    assert get(client).is_default  # nothing was stored
