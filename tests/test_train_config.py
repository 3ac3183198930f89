"""The default number of epochs follows the archive's size; explicit values are kept."""

import pytest

from tweettwin.errors import ConfigError
from tweettwin.train_config import MAX_AUTO_EPOCHS, MIN_TRAIN_TOKENS, TrainConfig


def test_an_archive_of_the_token_floor_or_more_trains_one_epoch():
    config = TrainConfig()
    assert config.epochs is None
    assert config.planned_epochs(MIN_TRAIN_TOKENS) == 1.0
    assert config.planned_epochs(47_000) == 1.0


def test_a_small_archive_trains_on_about_the_floor_in_tokens_up_to_two_epochs():
    config = TrainConfig()
    assert config.planned_epochs(16_000) == pytest.approx(MIN_TRAIN_TOKENS / 16_000, abs=1e-3)
    assert config.planned_epochs(20_000) == 1.5
    assert config.planned_epochs(5_000) == MAX_AUTO_EPOCHS == 2.0
    assert config.planned_epochs(0) == MAX_AUTO_EPOCHS


def test_epochs_given_are_used_whatever_the_size():
    assert TrainConfig(epochs=1).planned_epochs(5_000) == 1
    assert TrainConfig(epochs=0.5).planned_epochs(100_000) == 0.5
    assert TrainConfig(epochs=3).planned_epochs(100_000) == 3


@pytest.mark.parametrize("bad", [0, -1.0])
def test_epochs_must_be_positive(bad):
    with pytest.raises(ConfigError, match="epochs must be greater than 0"):
        TrainConfig(epochs=bad)
