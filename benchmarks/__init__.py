"""`make bench`: Likewise's benchmark suite (issue "Fast at every size").

Every comparison runs side by side in one invocation, over several rounds, and medians are
quoted: the machine is shared and noisy, so ratios between rows are what count.
"""
