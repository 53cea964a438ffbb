# bash completion for parallelrun (installed as
# share/bash-completion/completions/parallelrun). The options come from the
# installed command's own help, so they never fall behind it.
_parallelrun() {
  local cur prev sub
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  local subcommands="run validate resume jobs report tune help version"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$subcommands --help --version" -- "$cur"))
    return
  fi
  sub="${COMP_WORDS[1]}"
  case "$prev" in
    --progress) COMPREPLY=($(compgen -W "auto bar plain none" -- "$cur")); return ;;
    --start-method|--start_method) COMPREPLY=($(compgen -W "fork spawn" -- "$cur")); return ;;
  esac
  if [ "$sub" = help ]; then
    COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    local opts
    opts="$("${COMP_WORDS[0]}" "$sub" --help 2>/dev/null | grep -o -- '--[A-Za-z][A-Za-z0-9_-]*' | sort -u)"
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
  fi
}
complete -F _parallelrun parallelrun
