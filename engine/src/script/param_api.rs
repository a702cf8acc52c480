//! Automation handles: `param:set(t, v)`, `:linear_to`, `:exp_to`, `:target`, `:curve`.

use mlua::{
    AnyUserData, Lua, MetaMethod, Result as LuaResult, Table, UserData, UserDataMethods, Value,
};

use super::api::{call_span, param_unit, raise, with_model, ParamRef};
use super::options::type_name;
use crate::error::{Error, ErrorKind};
use crate::param::AutomationEvent;

fn automate(
    lua: &Lua,
    ud: AnyUserData,
    p: ParamRef,
    ev: AutomationEvent,
) -> LuaResult<AnyUserData> {
    let span = call_span(lua);
    with_model(lua, |m| {
        if p.node == m.strips[super::model::MASTER].fader {
            m.master_fader_span = span.clone();
        }
        if let Err(e) = m.spec.automate(p.node, p.id, ev) {
            m.error(e.at(span.as_ref()));
        }
    });
    super::api::stop_on_limit(lua)?;
    Ok(ud)
}

fn num_arg(lua: &Lua, v: Value, what: &str) -> LuaResult<f64> {
    super::api::as_number(&v).ok_or_else(|| {
        raise(
            Error::new(
                ErrorKind::Script,
                format!("{what} must be a number, got {}", type_name(&v)),
            )
            .at(call_span(lua).as_ref()),
        )
    })
}

/// An automation value of `p`: a number (or true/false for switches), named in the message.
fn value_arg(lua: &Lua, p: ParamRef, v: Value, what: &str) -> LuaResult<f32> {
    let unit = with_model(lua, |m| param_unit(m, p));
    if let Some(x) = super::api::as_number(&v) {
        super::plugin_api::check_value(lua, p, x)
            .map_err(|m| raise(Error::new(ErrorKind::Param, m).at(call_span(lua).as_ref())))?;
    }
    super::mapping::param_number(p.id, &v, unit)
        .map(|x| x as f32)
        .map_err(|_| {
            let want = if unit == crate::param::Unit::Switch {
                "true/false or 1/0"
            } else {
                "a number"
            };
            raise(
                Error::new(
                    ErrorKind::Script,
                    format!(
                        "{}: the automation {what} must be {want}, got {}",
                        p.id,
                        type_name(&v)
                    ),
                )
                .at(call_span(lua).as_ref()),
            )
        })
}

impl UserData for ParamRef {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_function("set", |lua, (ud, t, v): (AnyUserData, Value, Value)| {
            let p = *ud.borrow::<ParamRef>()?;
            let (t_s, value) = (num_arg(lua, t, "time")?, value_arg(lua, p, v, "value")?);
            automate(lua, ud, p, AutomationEvent::Set { t_s, value })
        });
        methods.add_function(
            "linear_to",
            |lua, (ud, t, v): (AnyUserData, Value, Value)| {
                let p = *ud.borrow::<ParamRef>()?;
                let (t_s, value) = (num_arg(lua, t, "time")?, value_arg(lua, p, v, "value")?);
                automate(lua, ud, p, AutomationEvent::Linear { t_s, value })
            },
        );
        methods.add_function("exp_to", |lua, (ud, t, v): (AnyUserData, Value, Value)| {
            let p = *ud.borrow::<ParamRef>()?;
            let (t_s, value) = (num_arg(lua, t, "time")?, value_arg(lua, p, v, "value")?);
            automate(lua, ud, p, AutomationEvent::Exp { t_s, value })
        });
        methods.add_function(
            "target",
            |lua, (ud, t, v, tau): (AnyUserData, Value, Value, Value)| {
                let p = *ud.borrow::<ParamRef>()?;
                let t_s = num_arg(lua, t, "time")?;
                let value = value_arg(lua, p, v, "value")?;
                let tau_s = num_arg(lua, tau, "tau_s")?;
                if tau_s <= 0.0 {
                    return Err(raise(
                        Error::new(
                            ErrorKind::Param,
                            format!("target: tau_s = {tau_s} must be greater than 0 s"),
                        )
                        .at(call_span(lua).as_ref()),
                    ));
                }
                automate(lua, ud, p, AutomationEvent::Target { t_s, value, tau_s })
            },
        );
        methods.add_function("curve", |lua, (ud, pts): (AnyUserData, Table)| {
            let p = *ud.borrow::<ParamRef>()?;
            let mut first = true;
            for pt in pts.sequence_values::<Table>() {
                let pt = pt.map_err(|_| {
                    raise(
                        Error::new(
                            ErrorKind::Script,
                            "curve takes a list of {time, value} pairs",
                        )
                        .at(call_span(lua).as_ref()),
                    )
                })?;
                let t_s = num_arg(lua, pt.get(1)?, "curve time")?;
                let value = value_arg(lua, p, pt.get(2)?, "curve value")?;
                let ev = if first {
                    AutomationEvent::Set { t_s, value }
                } else {
                    AutomationEvent::Linear { t_s, value }
                };
                first = false;
                automate(lua, ud.clone(), p, ev)?;
            }
            Ok(ud)
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("param {}", this.id))
        });
    }
}
