"""t0/t1: when frame 0 is copied and where the other frames re-enter the schedule.

As in diffusers, t0 < t1 are step indices counted from the end of a ``steps``-long
schedule. After k denoising steps a latent sits at noise level sigmas[k], so

    T1 = sigmas[steps - t1 - 1]   (frame 0 is denoised alone down to here, k1 steps)
    T0 = sigmas[steps - t0 - 1]   (... and on to here, k0 steps, then copied and warped)

The reference defaults (t0=44, t1=47) are meant for 50 steps: 2 steps to T1, 5 to T0.
With ``REL_50`` the given values are read as indices of a 50-step schedule and rescaled
to the number of steps actually run, keeping the same fraction of the schedule, so the
defaults work at 20 or 30 steps (diffusers raises at 30 steps with t1=47).
"""
from __future__ import annotations

from dataclasses import dataclass

EXACT = "exact (indices of this schedule)"
REL_50 = "scaled from 50 steps"
MODES = [REL_50, EXACT]
REFERENCE_STEPS = 50


@dataclass(frozen=True)
class Timing:
    steps: int
    t0: int        # effective indices, counted from the end of this schedule
    t1: int

    @property
    def k1(self) -> int:
        """Denoising steps frame 0 takes to reach T1."""
        return self.steps - self.t1 - 1

    @property
    def k0(self) -> int:
        """Denoising steps frame 0 takes to reach T0."""
        return self.steps - self.t0 - 1


def check(steps: int, t0: int, t1: int, mode: str = EXACT) -> str | None:
    """A message naming the offending input, or None when the values are usable."""
    if mode not in MODES:
        return f"t_mode '{mode}' is not one of: {', '.join(MODES)}"
    if steps < 2:
        return f"steps ({steps}) must be at least 2: frame 0 needs steps before T0 and the video after"
    if t0 < 0 or t1 < 0:
        return f"t0 ({t0}) and t1 ({t1}) must be 0 or more"
    if t0 >= t1:
        return f"t0: t0 ({t0}) must be smaller than t1 ({t1}): T0 is later in sampling (less noise) than T1"
    limit = REFERENCE_STEPS if mode == REL_50 else steps
    if t1 >= limit:
        if mode == REL_50:
            return (f"t1 ({t1}) must be smaller than 50: with t_mode '{REL_50}' t0/t1 are indices "
                    f"of a 50-step schedule (the paper's defaults are t0=44, t1=47)")
        return (f"t1 ({t1}) must be smaller than steps ({steps}); use t_mode '{REL_50}' to keep "
                f"the 50-step defaults (t0=44, t1=47) at {steps} steps")
    return None


def resolve(steps: int, t0: int, t1: int, mode: str = EXACT) -> Timing:
    """Effective (t0, t1) for a schedule of ``steps`` steps; raises ValueError on bad input."""
    msg = check(steps, t0, t1, mode)
    if msg:
        raise ValueError(msg)
    if mode == EXACT:
        return Timing(steps, t0, t1)
    # Keep the fraction of the schedule done before T1 and T0; T0 stays at least one
    # step after T1 and at least one step before the end.
    done1 = (REFERENCE_STEPS - t1 - 1) * steps / REFERENCE_STEPS
    done0 = (REFERENCE_STEPS - t0 - 1) * steps / REFERENCE_STEPS
    k1 = min(int(round(done1)), steps - 2)
    k0 = min(max(int(round(done0)), k1 + 1), steps - 1)
    return Timing(steps, steps - k0 - 1, steps - k1 - 1)
