"""Typed gateways: the one way apply (and the Identity Center read) speaks to AWS.

One gateway per service and account (`iam.IamGateway`; `identity_center.IdentityCenter` with its
sso-admin and identity-store gateways; `sts.StsGateway`; `organizations.OrganizationsGateway`).
STS and Organizations are called through their gateways only (tests/unit/test_layering.py). Each method is one intent; the gateway owns paging, error
translation, retries, send-once for the non-idempotent creates, Identity Center's waits and one
writer per permission set (see each module). Clients are injected, so tests stub the real
botocore clients (botocore.stub.Stubber) or hand in fakes.
"""
