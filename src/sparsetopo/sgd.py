"""The optimiser of every training loop: SGD with momentum and coupled weight decay (:class:`SGD`, the update of
``torch.optim.SGD`` bit for bit, without its import cost on CPU) and :func:`make_optimizer`, which picks it on CPU
and ``torch.optim.SGD(foreach=True)`` on CUDA."""

from __future__ import annotations

from typing import Any, Mapping

import torch


class SGD:
    """SGD with momentum and (coupled) weight decay: the update of ``torch.optim.SGD`` (no dampening, no
    Nesterov), bit for bit, with the same ``state[param]["momentum_buffer"]``, ``param_groups`` and
    ``state_dict()`` layout, so dynamic-sparsity hooks and checkpoints treat both alike.

    Why our own on CPU: building a ``torch.optim`` optimiser imports ``torch._dynamo`` (3.9-7.7 s in a job's
    process here, more than a whole default-study training job), and no variant steps meaningfully faster.
    ``benchmarks/bench_optimizer.py`` (1 thread, torch 2.14.1, fixed random gradients, momentum 0.9, weight
    decay 1e-4; best of 300 interleaved steps, on a shared 2-core machine) measured, in ms per step:

    ==========  ============  ===============  ================  =================  ==================
    model       ours, loop    ours, foreach    torch, foreach    torch, for-loop    fwd+bwd, batch 32
    ==========  ============  ===============  ================  =================  ==================
    ResNet-20   1.22          0.95             1.13              1.26               445
    CONV-6      4.90          5.13             6.00              5.19               1011
    ==========  ============  ===============  ================  =================  ==================

    All four are within 25% of each other and below 1% of a forward + backward pass, so the CPU path keeps this
    class with the per-tensor loop (fastest for CONV-6's few large tensors; ``foreach=True``, the multi-tensor
    ``torch._foreach_*`` kernels, is bit-identical and slightly faster for ResNet-20's many small ones). On CUDA
    (not measurable here: no GPU) :func:`make_optimizer` uses ``torch.optim.SGD(foreach=True)``, the upstream
    fast path: a few multi-tensor kernel launches per step instead of three per parameter tensor, which is what
    bounds a GPU optimiser step; its import cost is nothing next to a GPU job."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 foreach: bool = False) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.momentum, self.weight_decay, self.foreach = float(momentum), float(weight_decay), bool(foreach)
        self.param_groups = [{"params": self.params, "lr": float(lr), "momentum": self.momentum,
                              "weight_decay": self.weight_decay}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = False) -> None:
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        lr = self.param_groups[0]["lr"]
        params = [p for p in self.params if p.grad is not None]
        if self.foreach:
            self._foreach_step(params, lr)
            return
        for p in params:
            d = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
            if self.momentum:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d.detach().clone()
                else:
                    buf.mul_(self.momentum).add_(d)
                d = buf
            p.add_(d, alpha=-lr)

    def _foreach_step(self, params: list[torch.Tensor], lr: float) -> None:
        if not params:
            return
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:
            old = [i for i, p in enumerate(params) if "momentum_buffer" in self.state.get(p, {})]
            if old:
                bufs = [self.state[params[i]]["momentum_buffer"] for i in old]
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, [grads[i] for i in old])
            seen = set(old)
            for i, p in enumerate(params):
                if i not in seen:
                    self.state.setdefault(p, {})["momentum_buffer"] = grads[i].detach().clone()
            grads = [self.state[p]["momentum_buffer"] for p in params]
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim`` layout: per-parameter state by position, and the hyperparameters."""
        index = {id(p): i for i, p in enumerate(self.params)}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()},
                "param_groups": [{**group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (tensors copied to each parameter's device)."""
        self.param_groups[0].update({k: v for k, v in state["param_groups"][0].items() if k != "params"})
        self.state = {self.params[int(i)]: {k: v.to(self.params[int(i)].device) for k, v in s.items()}
                      for i, s in state["state"].items()}


def make_optimizer(params, lr: float, momentum: float, weight_decay: float, device: torch.device | str):
    """The project's :class:`SGD` on CPU; ``torch.optim.SGD(foreach=True)`` on CUDA (its fast path)."""
    if torch.device(device).type == "cuda":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    return SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
