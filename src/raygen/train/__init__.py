"""Training: pretraining windows and loop (Ray Train), evaluation, fine-tuning of variant-effect heads."""
