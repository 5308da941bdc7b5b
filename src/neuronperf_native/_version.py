"""The package version: a leaf module, so that anything may import it without the
package __init__ (which imports nearly everything) having to run first."""

__version__ = "0.1.0"
