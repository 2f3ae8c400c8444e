"""django-filter's FilterSet, with its form class built once per class."""

import django_filters


class FilterSet(django_filters.FilterSet):
    """A FilterSet whose filters are the same for every request (none added or changed per
    instance), which every FilterSet of the API is.

    django-filter builds the form *class* for each request: a Django form field per filter,
    its label looked up on the model, then ``type()`` of a new form class (~1.7 ms of the
    invoice list's ~26 under cProfile). Here it is built once per class; each request still
    makes its own form (a form instance copies the fields it is given), so no value or error
    of one request reaches another."""

    def get_form_class(self):
        owner = type(self)
        form_class = owner.__dict__.get("_form_class_once")
        if form_class is None:
            form_class = super().get_form_class()
            owner._form_class_once = form_class  # a race builds two equal classes: harmless
        return form_class
