"""Plots of `nengo_keras.evaluate` results (needs matplotlib: ``[plots]`` extra).

Every function returns a `matplotlib.figure.Figure` (created without pyplot,
so nothing is shown or kept open unless you do so): save it with
``fig.savefig("name.png")``, or pass ``ax=`` to draw into your own axes.

Examples
--------
>>> from nengo_keras import plots
>>> fig = plots.plot_accuracy([rate_result, spiking_result])
>>> fig.savefig("accuracy.png")
"""

from __future__ import annotations

import numpy as np


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _is_spiking(result):
    return any(a.spiking for a in result.layers.values())


def _named(results, labels):
    if isinstance(results, dict):
        return list(results.items())
    if not isinstance(results, (list, tuple)):
        results = [results]
    labels = labels or [r.label or f"result {i}" for i, r in enumerate(results)]
    return list(zip(labels, results))


def plot_accuracy(results, labels=None, ax=None, chance=None):
    """Accuracy against simulated time for one or several evaluations.

    Spiking results are drawn with solid lines, rate results dashed; the
    legend gives each one's accuracy at the last step.

    Parameters
    ----------
    results : EvaluationResult, list of them, or dict ``{label: result}``
        Evaluations with labels (``result.accuracy`` not None).
    labels : list of str, optional
        Legend labels (default: each result's ``label``).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    chance : float, optional
        Draw a dotted line at this accuracy (e.g. ``1 / n_classes``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_accuracy({"rate": rate_res, "spiking": spike_res}, chance=0.1)
    """
    fig, ax = _axes(ax, (6.4, 4.0))
    for name, res in _named(results, labels):
        if res.accuracy is None:
            raise ValueError(
                f"result {name!r} has no accuracy: evaluate it with labels (y=...)"
            )
        t = np.arange(1, res.n_steps + 1) * res.dt * 1000
        style = "-" if _is_spiking(res) else "--"
        ax.plot(t, res.accuracy, style, lw=2, label=f"{name} ({res.accuracy[-1]:.1%})")
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.0%})")
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(title="accuracy at last step", loc="lower right")
    ax.set_title("Accuracy over the presentation")
    return fig


def plot_rates(result, layers=None, bins=30, ncols=3, log=True):
    """Histograms of neurons' mean firing rates, one panel per layer.

    Parameters
    ----------
    result : EvaluationResult
    layers : list of str, optional
        Layer names to show (default: every layer with neurons).
    bins : int
        Histogram bins.
    ncols : int
        Panels per row.
    log : bool
        Logarithmic count axis (rate distributions are long-tailed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_rates(spiking_result)
    """
    from matplotlib.figure import Figure

    names = list(result.layers) if layers is None else list(layers)
    if not names:
        raise ValueError("the result has no layers with neurons to plot")
    ncols = min(ncols, len(names))
    nrows = -(-len(names) // ncols)
    fig = Figure(figsize=(3.6 * ncols, 2.9 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        act = result.layers[name]
        ax.hist(act.rates, bins=bins, log=log, color="C1" if act.spiking else "C0")
        ax.axvline(act.mean_rate, color="k", ls="--", lw=1)
        silent = np.mean(act.rates <= 0)
        ax.set_title(
            f"{name}\nmean {act.mean_rate:.3g} Hz, {silent:.0%} silent", fontsize=9
        )
        ax.set_xlabel("firing rate (Hz)")
        ax.set_ylabel("neurons")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(f"Firing rates per layer: {result.label}")
    return fig


def plot_outputs(result, sample=0, ax=None, class_names=None, max_traces=20):
    """The output of one sample over time, one trace per output unit.

    The trace of the true class (if labelled) is drawn thick and black.

    Parameters
    ----------
    result : EvaluationResult
    sample : int
        Which sample.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    class_names : list of str, optional
        Legend names of the output units.
    max_traces : int
        Outputs with more units show the ones with the largest final values.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_outputs(spiking_result, sample=3)
    """
    fig, ax = _axes(ax, (6.4, 4.0))
    out = result.outputs[sample].reshape(result.n_steps, -1)
    t = np.arange(1, result.n_steps + 1) * result.dt * 1000
    label = None
    if result.labels is not None and result.labels[sample].size == 1:
        label = int(result.labels[sample])
    units = np.argsort(out[-1])[::-1][:max_traces]
    if label is not None and label not in units:
        units = np.append(units[:-1], label)
    for i in sorted(units):
        name = class_names[i] if class_names is not None else str(i)
        if i == label:
            ax.plot(t, out[:, i], color="k", lw=2.5, label=f"{name} (true)", zorder=3)
        else:
            ax.plot(t, out[:, i], lw=1.2, label=name)
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("output")
    ax.grid(alpha=0.3)
    if len(units) <= 12:
        ax.legend(title="class", fontsize=8, ncols=2 if len(units) > 6 else 1,
                  loc="center left", bbox_to_anchor=(1.0, 0.5))
    predicted = int(np.argmax(out[-1]))
    title = f"Outputs of sample {sample}: predicted {predicted}"
    if label is not None:
        title += f", true {label}"
    ax.set_title(f"{title} ({result.label})")
    return fig
