"""BatchedAdam: torch's Adam per member, a per-member learning rate, moments that follow surgery."""

from __future__ import annotations

import torch

import aire
from aire.nn.batched_mlp import BatchedSineMLP
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.batched_adam import BatchedAdam


def setup(count: int = 2):
    signal = ImageSignal(image=synthetic_image(8))
    nets = [aire.build_network(signal, [5, 4], seed=s) for s in range(count)]
    return signal, nets, BatchedSineMLP(nets)


def test_three_steps_match_torch_adam_on_each_member():
    signal, nets, batched = setup()
    opt = BatchedAdam(batched, lr=1e-2)
    singles = [torch.optim.Adam(net.parameters(), lr=1e-2) for net in nets]
    x, y = signal.coords, signal.values
    for _ in range(3):
        opt.zero_grad()
        ((batched(x[None]) - y) ** 2).mean(dim=(1, 2)).sum().backward()
        opt.step()
        for net, single in zip(nets, singles):
            single.zero_grad()
            ((net(x) - y) ** 2).mean().backward()
            single.step()
    for n, net in enumerate(nets):
        for a, b in zip(batched.member(n).weights, net.weights):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_zero_member_lr_freezes_that_member_only():
    signal, nets, batched = setup()
    opt = BatchedAdam(batched, lr=1e-2)
    opt.member_lr[1] = 0.0
    before = [w.detach().clone() for w in batched.weights]
    opt.zero_grad()
    ((batched(signal.coords[None]) - signal.values) ** 2).mean(dim=(1, 2)).sum().backward()
    opt.step()
    assert all(torch.equal(w[1], b[1]) for w, b in zip(batched.weights, before))
    assert not torch.equal(batched.weights[1][0], before[1][0])


def test_moments_follow_each_members_surgery():
    signal, nets, batched = setup()
    opt = BatchedAdam(batched, lr=1e-2)
    opt.zero_grad()
    ((batched(signal.coords[None]) - signal.values) ** 2).mean(dim=(1, 2)).sum().backward()
    opt.step()
    m_out = opt.state[("weights", 2)]["exp_avg"].clone()  # (2, 3, 4): columns are layer 1's neurons
    batched.remove_neurons(1, torch.tensor([[0], [3]]), opt)
    assert torch.equal(opt.state[("weights", 2)]["exp_avg"][0], m_out[0][:, [1, 2, 3]])
    assert torch.equal(opt.state[("weights", 2)]["exp_avg"][1], m_out[1][:, [0, 1, 2]])
