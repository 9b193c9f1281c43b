"""Adversarial training parts for train.py (issue 3 recipe, optional).

A 3D patch discriminator with the non-saturating GAN loss and the LeCam regulariser
(Tseng et al., CVPR 2021), as MAGVIT-v2 uses them. The discriminator never ships: it
only shapes the tokenizer's decoder during training, so it does not have to be causal
and the C engine knows nothing of it.

    D = PatchDiscriminator3D(channels=32)
    g_loss = generator_loss(D(x_hat))                      # added to the tokenizer loss
    d_loss, parts = discriminator_loss(D(x), D(x_hat.detach()), lecam, weight=1e-3)

`LeCam` keeps exponential moving averages of the discriminator's mean output on real
and on generated clips and penalises outputs that stray past the other side's anchor:
R = mean((D(real) - a_fake)^2) + mean((D(fake) - a_real)^2).
"""

import torch.nn as nn
import torch.nn.functional as F


class PatchDiscriminator3D(nn.Module):
    """Fully convolutional 3D discriminator: one logit per space-time patch.

    Four 3x3x3 convolutions; the first three halve the picture size, the second also
    halves time when the clip is long enough (1-frame clips from the image phase go
    through the same weights). GroupNorm, not BatchNorm: the batches are tiny.
    """

    def __init__(self, in_channels=3, channels=32, groups=8):
        super().__init__()
        c = channels
        self.conv0 = nn.Conv3d(in_channels, c, 3, stride=(1, 2, 2), padding=1)
        self.conv1 = nn.Conv3d(c, 2 * c, 3, stride=(1, 2, 2), padding=1)
        self.norm1 = nn.GroupNorm(min(groups, 2 * c), 2 * c)
        self.conv2 = nn.Conv3d(2 * c, 4 * c, 3, stride=(1, 2, 2), padding=1)
        self.norm2 = nn.GroupNorm(min(groups, 4 * c), 4 * c)
        self.conv3 = nn.Conv3d(4 * c, 1, 3, stride=1, padding=1)

    def forward(self, x):
        """x [B, C, T, H, W] in [-1, 1] -> logits [B, 1, T', H/8, W/8]."""
        h = F.leaky_relu(self.conv0(x), 0.2)
        if h.shape[2] >= 4:  # halve time on clips (5 frames -> 3), not on stills
            h = F.avg_pool3d(h, (2, 1, 1), stride=(2, 1, 1), ceil_mode=True)
        h = F.leaky_relu(self.norm1(self.conv1(h)), 0.2)
        h = F.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        return self.conv3(h)


class LeCam:
    """Moving anchors of the discriminator's mean output on real and generated data."""

    def __init__(self, decay=0.99):
        self.decay = decay
        self.real = 0.0
        self.fake = 0.0
        self.started = False

    def update(self, d_real, d_fake):
        r, f = d_real.detach().float().mean().item(), d_fake.detach().float().mean().item()
        if not self.started:
            self.real, self.fake, self.started = r, f, True
        else:
            self.real = self.decay * self.real + (1 - self.decay) * r
            self.fake = self.decay * self.fake + (1 - self.decay) * f

    def penalty(self, d_real, d_fake):
        """The regulariser against the current anchors (call update() first)."""
        return ((d_real.float() - self.fake) ** 2).mean() + ((d_fake.float() - self.real) ** 2).mean()

    def state_dict(self):
        return {"decay": self.decay, "real": self.real, "fake": self.fake, "started": self.started}

    def load_state_dict(self, sd):
        self.decay, self.real, self.fake, self.started = sd["decay"], sd["real"], sd["fake"], sd["started"]


def generator_loss(d_fake):
    """Non-saturating generator loss: -log sigmoid(D(G(z)))."""
    return F.softplus(-d_fake.float()).mean()


def discriminator_loss(d_real, d_fake, lecam=None, weight=0.0):
    """Non-saturating discriminator loss plus the weighted LeCam penalty.
    Returns (loss, dict of the parts as floats)."""
    adv = F.softplus(-d_real.float()).mean() + F.softplus(d_fake.float()).mean()
    parts = {"adv": adv.item()}
    loss = adv
    if lecam is not None and weight > 0:
        lecam.update(d_real, d_fake)
        reg = lecam.penalty(d_real, d_fake)
        loss = loss + weight * reg
        parts["lecam"] = reg.item()
    return loss, parts
