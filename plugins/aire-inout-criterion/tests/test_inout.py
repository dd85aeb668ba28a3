from aire.testing import check_pruning_criterion
from aire_inout_criterion import InOutCriterion


def test_inout_honours_the_criterion_contract():
    check_pruning_criterion(InOutCriterion())
