"""The VAE baseline of RRL (paper appendix 7.4): a conv VAE trained on 64x64 task images, served as encoder `vae`."""
