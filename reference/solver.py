"""Solver: trains a classification model with minibatch SGD-style updates.

Same interface and log lines as the course's Solver. The model must have a
`params` dict and `loss(X, y=None)` returning scores, or (loss, grads) given y.
Runs on NumPy 1.2x and 2.x and Python 3.8+ (copied into student packages).
"""

from __future__ import annotations

import inspect
import pickle
from typing import Optional

import numpy as np

from . import optim

_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


class Solver:
    """Trains `model` on `data` (dict with X_train, y_train, X_val, y_val).

    Options: update_rule ('sgd'), optim_config ({}), lr_decay (1.0), batch_size (100),
    num_epochs (10), num_train_samples (1000), num_val_samples (None: all),
    checkpoint_name (None), print_every (10), verbose (True), and seed (None): when
    given, minibatches and accuracy subsamples come from a private RandomState so
    training is reproducible without touching numpy's global random state.
    """

    def __init__(self, model, data: dict, **kwargs):
        missing = [key for key in _DATA_KEYS if key not in data]
        if missing:
            raise ValueError(
                f"Solver data is missing {missing}; it needs the keys {list(_DATA_KEYS)}"
            )
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        seed = kwargs.pop("seed", None)
        if kwargs:
            raise ValueError("Unrecognized arguments %s" % ", ".join('"%s"' % k for k in kwargs))
        rule = getattr(optim, self.update_rule, None) if isinstance(self.update_rule, str) else None
        if not inspect.isfunction(rule):
            raise ValueError('Invalid update_rule "%s"' % self.update_rule)
        self.update_rule = rule
        self._rng = np.random if seed is None else np.random.RandomState(seed)
        self._reset()

    def _reset(self) -> None:
        """Set up book-keeping variables and one optimizer config per parameter."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self) -> None:
        """One gradient update on a random minibatch."""
        num_train = self.X_train.shape[0]
        batch_mask = self._rng.choice(num_train, self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch_mask], self.y_train[batch_mask])
        self.loss_history.append(loss)
        for p, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _save_checkpoint(self) -> None:
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (self.checkpoint_name, self.epoch)
        if self.verbose:
            print('Saving checkpoint to "%s"' % filename)
        with open(filename, "wb") as f:
            pickle.dump(checkpoint, f)

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: Optional[int] = None, batch_size: int = 100
    ) -> float:
        """Fraction of X classified as y, on a random subsample of num_samples if given."""
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            mask = self._rng.choice(n, num_samples)
            X, y = X[mask], y[mask]
            n = num_samples
        y_pred = [
            np.argmax(self.model.loss(X[start : start + batch_size]), axis=1)
            for start in range(0, n, batch_size)
        ]
        return float(np.mean(np.hstack(y_pred) == y))

    def train(self) -> None:
        """Run num_epochs of optimisation, keeping the parameters with the best val accuracy."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(
                    "(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, self.loss_history[-1])
                )

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay

            if t == 0 or t == num_iterations - 1 or epoch_end:
                self._record_accuracies()
        if self.best_params:  # stays empty when val accuracy never rose above 0
            self.model.params = self.best_params

    def _record_accuracies(self) -> None:
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, num_samples=self.num_train_samples
        )
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._save_checkpoint()
        if self.verbose:
            print(
                "(Epoch %d / %d) train acc: %f; val_acc: %f"
                % (self.epoch, self.num_epochs, train_acc, val_acc)
            )
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
