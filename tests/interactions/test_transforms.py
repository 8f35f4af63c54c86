import pytest
import torch

from tests.helpers.games import (
    brute_force_and,
    brute_force_or,
    random_sparse_coefficients,
    unanimity_and,
    unanimity_or,
)
from twophase.interactions import transforms as T


@pytest.mark.parametrize("n", [1, 3, 5, 6])
def test_matches_brute_force_definitions(n):
    g = torch.Generator().manual_seed(n)
    v = torch.randn(3, 1 << n, generator=g, dtype=torch.float64)
    torch.testing.assert_close(T.and_interactions(v), brute_force_and(v))
    torch.testing.assert_close(T.or_interactions(v), brute_force_or(v))


@pytest.mark.parametrize("n", [4, 8, 12])
def test_unanimity_games_give_their_coefficients(n):
    g = torch.Generator().manual_seed(100 + n)
    c_and = random_sparse_coefficients(n, 7, g)
    c_or = random_sparse_coefficients(n, 5, g)
    I_and = T.and_interactions(unanimity_and(n, c_and))
    expected = torch.zeros(1 << n, dtype=torch.float64)
    for t, c in c_and.items():
        expected[t] = c
    torch.testing.assert_close(I_and, expected)

    I_or = T.or_interactions(unanimity_or(n, c_or))
    expected = torch.zeros(1 << n, dtype=torch.float64)
    for t, c in c_or.items():
        expected[t] = c
    torch.testing.assert_close(I_or, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trips_and_universal_matching(dtype):
    n = 9
    v = torch.randn(2, 3, 1 << n, dtype=dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else {}
    torch.testing.assert_close(T.and_reconstruct(T.and_interactions(v)), v, **tol)
    torch.testing.assert_close(T.or_reconstruct(T.or_interactions(v)), v, **tol)
    # OR universal matching written out: v(S) = I({}) + sum over non-empty T meeting S
    I_or = T.or_interactions(v.double())
    masks = torch.arange(1 << n)
    meets = (masks[:, None] & masks[None, :]) != 0  # [S, T]
    rec = I_or[..., :1] + I_or @ meets.double().T
    torch.testing.assert_close(rec, v.double(), **tol)


def test_transposes_are_matrix_transposes():
    n = 5
    eye = torch.eye(1 << n, dtype=torch.float64)
    Z = T.zeta(eye).T  # columns are images of basis vectors
    M = T.moebius(eye).T
    torch.testing.assert_close(T.zeta_transpose(eye).T, Z.T)
    torch.testing.assert_close(T.moebius_transpose(eye).T, M.T)
    torch.testing.assert_close(Z @ M, eye)


def test_gradcheck():
    x = torch.randn(2, 16, dtype=torch.float64, requires_grad=True)
    for f in (T.and_interactions, T.or_interactions, T.and_reconstruct, T.or_reconstruct):
        assert torch.autograd.gradcheck(f, (x,))


def test_batched_equals_single_and_large_n_tiles():
    v = torch.randn(40, 1 << 16)
    full = T.and_interactions(v)
    torch.testing.assert_close(full[7], T.and_interactions(v[7]))
    assert T.and_interactions(torch.randn(1 << 20)).shape == (1 << 20,)


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="2\\*\\*n"):
        T.and_interactions(torch.randn(4, 1000))
    with pytest.raises(ValueError, match="scalar"):
        T.and_interactions(torch.tensor(1.0))


def test_integer_input_is_promoted():
    v = torch.arange(8)
    assert T.and_interactions(v).dtype == torch.get_default_dtype()
